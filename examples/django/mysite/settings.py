"""Settings for the pgdiplomat Django example.

The database comes from DATABASE_URL (postgres://user:password@host:port/dbname) or, without
it, from the libpq environment variables PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
No extra packages: the URL is parsed by hand.
"""
import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "pgdiplomat-example-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "users",
]

MIDDLEWARE = []
ROOT_URLCONF = "mysite.urls"
USE_TZ = True
TIME_ZONE = "UTC"


def database_from_env():
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql"):
            raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")
        options = dict(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or os.environ.get("PGDATABASE", "postgres"),
            "USER": unquote(parts.username or "") or os.environ.get("PGUSER", ""),
            "PASSWORD": unquote(parts.password or "") or os.environ.get("PGPASSWORD", ""),
            "HOST": unquote(parts.hostname or "") or os.environ.get("PGHOST", ""),
            "PORT": str(parts.port or "") or os.environ.get("PGPORT", ""),
            "OPTIONS": options,
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PGDATABASE", "postgres"),
        "USER": os.environ.get("PGUSER", ""),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
    }


DATABASES = {"default": database_from_env()}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
