from django.db import models
from django.db.models.functions import Upper


class User(models.Model):
    # 0002_email_unique: unique=True is the change that froze production (the seed).
    email = models.CharField(max_length=255, unique=True)
    # 0004_username_not_null: was null=True in 0001_initial.
    username = models.CharField(max_length=150)

    class Meta:
        # 0005_user_email_index: case-insensitive lookups by email.
        indexes = [
            models.Index(Upper("email"), name="users_user_email_upper_idx"),
        ]


class Payment(models.Model):
    amount = models.IntegerField()
    # 0003_payment_user_fk: was a plain BigIntegerField in 0001_initial; now a real foreign
    # key on the same column.
    user_ref = models.ForeignKey(User, db_column="user_ref", on_delete=models.CASCADE)
