//! `pgdiplomat fix`: fixes one migration, or every migration of a directory in its tool's order,
//! and prints the result or (`--write`) writes the files the planner in
//! `pgdiplomat_analysis::fix_files` lays out for the tool. Writing never replaces a file other
//! than the migration being fixed: every new path is checked first, then created with
//! `create_new` (O_EXCL), and the migrations are replaced last, so nothing is written when
//! anything is in the way.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::analyze::Analyzer;
use pgdiplomat_analysis::discover::{discover, MigrationFile};
use pgdiplomat_analysis::fix::{fix_preprocessed, Fixed};
use pgdiplomat_analysis::fix_files::{plan_write, PlanInput, WritePlan};
use pgdiplomat_analysis::layout::{detect, select, Layout};
use pgdiplomat_analysis::preprocess::{preprocess, Preprocessed};
use pgdiplomat_analysis::report::compact;
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_locks::DEFAULT_VERSION;

use crate::cli::{FixArgs, FixFormat};
use crate::input::{
    defines, dir_of, error, file_layout, prepare_unit, preprocess_settings, print_stdout,
    read_sources,
};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

/// One migration, fixed.
struct FixedFile {
    file: MigrationFile,
    text: String,
    unit: pgdiplomat_analysis::layout::MigrationUnit,
    fixed: Fixed,
    /// Why writing the fix would lose something of the file (`path:line:col: ...`).
    lost: Vec<String>,
}

/// The directory a migration tool keeps its migrations in, for a migration file: the folder of
/// the file, or its parent for the per-migration folders of diesel (`up.sql`) and Prisma
/// (`migration.sql`). Spelled like the argument (empty for the current directory), so paths
/// joined to it are spelled like the file.
fn migrations_root(file: &Path, layout: Layout) -> PathBuf {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if matches!(layout, Layout::Diesel | Layout::Prisma) {
        if let Some(parent) = dir.parent() {
            return parent.to_path_buf();
        }
    }
    dir
}

/// Every file below `root` (hidden entries skipped), for the planner's collision and order
/// checks; paths are `root` joined with the relative path, like discovery spells them.
fn list_files(root: &Path, out: &mut Vec<PathBuf>) {
    let read = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let Ok(entries) = fs::read_dir(read) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = root.join(entry.file_name());
        if path.is_dir() {
            list_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

pub fn run(args: FixArgs) -> u8 {
    let options = AnalysisOptions {
        pg_version: args.pg_version.unwrap_or(DEFAULT_VERSION),
        assume_in_transaction: false,
    };
    let defines = defines(&args.define, &Default::default());
    if args.file.as_os_str() == "-" {
        if args.write {
            error("--write needs a file, not standard input");
            return EXIT_USAGE;
        }
        let (sources, failed) = read_sources(std::slice::from_ref(&args.file));
        if failed || sources.is_empty() {
            return EXIT_USAGE;
        }
        let settings = preprocess_settings(Layout::Plain, Path::new("."), &defines);
        let pre = preprocess(&sources[0].text, &settings);
        return match fix_one(&sources[0], &pre, &mut Analyzer::new(options)) {
            Some((fixed, _)) => print(&args, &[(sources[0].name.clone(), fixed)]),
            None => EXIT_FINDINGS,
        };
    }

    // The migrations directory, its layout and the files to fix, in the tool's order.
    let path = &args.file;
    if let Some(Err(e)) = discover(std::slice::from_ref(path))
        .into_iter()
        .find(Result::is_err)
    {
        error(e);
        return EXIT_USAGE;
    }
    let is_dir = path.is_dir();
    let (root, layout, targets) = if is_dir {
        let all: Vec<MigrationFile> = discover(std::slice::from_ref(path))
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        let layout = args.layout.unwrap_or_else(|| {
            let texts: Vec<String> = all
                .iter()
                .map(|f| fs::read_to_string(&f.path).unwrap_or_default())
                .collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            detect(path, &all, &texts)
        });
        let found = all.len();
        let selected = select(layout, all);
        if selected.is_empty() {
            error(format!(
                "{}: none of the {found} .sql files is a migration {layout} runs; \
                 pass --layout to say which tool applies them",
                path.display()
            ));
            return EXIT_USAGE;
        }
        (path.clone(), layout, selected)
    } else {
        // Detected from the file itself, as `lint FILE` does.
        let file = MigrationFile {
            path: path.clone(),
            display: path.display().to_string(),
        };
        let layout = args
            .layout
            .unwrap_or_else(|| file_layout(path, &fs::read_to_string(path).unwrap_or_default()));
        (migrations_root(path, layout), layout, vec![file])
    };

    let settings = preprocess_settings(layout, &dir_of(path), &defines);
    let mut fixed_files = Vec::new();
    let mut failed = false;
    // One analyzer for the directory, as `lint` does: each file is a deploy onto the tables
    // earlier files created (existing, with data, their columns known).
    let mut analyzer = Analyzer::new(options);
    for (i, file) in targets.into_iter().enumerate() {
        if i > 0 {
            analyzer.end_deploy();
        }
        let text = match fs::read(&file.path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    // read_sources reports the position of the first invalid byte.
                    let _ = read_sources(std::slice::from_ref(&file.path));
                    return EXIT_USAGE;
                }
            },
            Err(e) => {
                error(format!("{}: cannot read: {e}", file.display));
                return EXIT_USAGE;
            }
        };
        // Fix what the tool runs (dbmate's up section) as the tool reads it; positions stay
        // those of the file.
        let original = SourceFile::new(file.display.clone(), text.as_str());
        let (unit, source, pre) = prepare_unit(layout, &file, &original, &settings);
        match fix_one(&source, &pre, &mut analyzer) {
            Some((fixed, lost)) => fixed_files.push(FixedFile {
                file,
                text,
                unit,
                fixed,
                lost,
            }),
            None => failed = true,
        }
    }

    if !args.write {
        let list: Vec<(String, Fixed)> = fixed_files
            .into_iter()
            .map(|f| (f.file.display, f.fixed))
            .collect();
        let status = print(&args, &list);
        return if failed { EXIT_FINDINGS } else { status };
    }
    if failed {
        error("nothing was written: fix the syntax errors first");
        return EXIT_FINDINGS;
    }
    write(layout, &root, &fixed_files)
}

/// Fixes one source as its tool reads it (`pre`); `None` after reporting a syntax error. The
/// preprocessor's notes go to stderr. Also returns why writing the fix would lose something of
/// the file: psql meta-commands (the fixed file holds statements only) and rewritten statements
/// that had placeholders (their new SQL holds the stand-in names); the printed fix says so.
fn fix_one(
    source: &SourceFile,
    pre: &Preprocessed,
    analyzer: &mut Analyzer,
) -> Option<(Fixed, Vec<String>)> {
    for note in &pre.notes {
        eprintln!("{}", compact::line(source, note));
    }
    match fix_preprocessed(analyzer, source, pre) {
        Ok((mut fixed, rewritten)) => {
            let mut lost = Vec::new();
            if !fixed.changed() {
                return Some((fixed, lost));
            }
            let at = |offset: usize| {
                let lc = source.line_col(offset);
                format!("{}:{}:{}", source.name, lc.line, lc.column)
            };
            if let Some(first) = pre.meta_commands.first() {
                let n = pre.meta_commands.len();
                let cmd = source
                    .slice(first)
                    .trim()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let more = if n > 1 {
                    format!(" and {} more", n - 1)
                } else {
                    String::new()
                };
                lost.push(format!(
                    "{}: the file has psql meta-commands (`{cmd}`{more}), which the fixed migration \
                     would not have",
                    at(first.start)
                ));
            }
            for span in rewritten.iter().filter(|s| !pre.restorable(s)) {
                let overlaps =
                    |r: &std::ops::Range<usize>| r.start < span.end && span.start < r.end;
                if let Some(sub) = pre.substitutions.iter().find(|r| overlaps(r)) {
                    lost.push(format!(
                        "{}: this statement is rewritten, and its new SQL holds `{}` where the file \
                         has `{}`: put it back in the printed fix",
                        at(span.start),
                        pre.text.get(sub.clone()).unwrap_or("").trim(),
                        source.slice(sub),
                    ));
                }
            }
            // Stand-in names back to the placeholders they stand for.
            for part in &mut fixed.parts {
                for sql in part.statements.iter_mut().chain(part.reverse.iter_mut()) {
                    *sql = pre.restore(sql);
                }
            }
            for note in &mut fixed.notes {
                *note = pre.restore(note);
            }
            fixed.notes.extend(lost.iter().cloned());
            Some((fixed, lost))
        }
        Err(e) => {
            let lc = source.line_col(e.offset);
            eprintln!(
                "{}:{}:{}: error: {}",
                source.name, lc.line, lc.column, e.message
            );
            None
        }
    }
}

fn print(args: &FixArgs, files: &[(String, Fixed)]) -> u8 {
    let several = files.len() != 1;
    let text = match args.format {
        FixFormat::Sql if !several => files[0].1.render(),
        FixFormat::Sql => {
            let mut out = String::new();
            for (name, fixed) in files {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("-- pgdiplomat fix: file {name}\n"));
                if fixed.changed() {
                    out.push_str(&fixed.render());
                } else {
                    out.push_str("-- nothing to fix\n");
                }
            }
            out
        }
        FixFormat::Json => {
            let value = if several {
                serde_json::json!({
                    "version": 1,
                    "files": files
                        .iter()
                        .map(|(name, fixed)| serde_json::json!({ "file": name, "fixed": fixed }))
                        .collect::<Vec<_>>(),
                })
            } else {
                serde_json::json!({ "version": 1, "file": files[0].0, "fixed": files[0].1 })
            };
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
    };
    match print_stdout(&text) {
        Ok(()) => EXIT_CLEAN,
        Err(()) => EXIT_USAGE,
    }
}

/// Plans every changed file, checks that no new path exists, then writes.
fn write(layout: Layout, root: &Path, files: &[FixedFile]) -> u8 {
    let mut existing = Vec::new();
    list_files(root, &mut existing);
    // Spell the migrations being fixed as the user did.
    let targets: std::collections::HashMap<PathBuf, &Path> = files
        .iter()
        .filter_map(|f| Some((fs::canonicalize(&f.file.path).ok()?, f.file.path.as_path())))
        .collect();
    for p in existing.iter_mut() {
        if let Some(t) = fs::canonicalize(&*p).ok().and_then(|c| targets.get(&c)) {
            *p = t.to_path_buf();
        }
    }
    let mut plans: Vec<(&FixedFile, WritePlan)> = Vec::new();
    let mut refused = false;
    for f in files {
        if !f.fixed.changed() {
            eprintln!("pgdiplomat: {}: nothing to fix", f.file.display);
            continue;
        }
        if !f.lost.is_empty() {
            for l in &f.lost {
                error(format!("{l}; fix --write does not write this migration"));
            }
            refused = true;
            continue;
        }
        let input = PlanInput {
            layout,
            file: &f.file,
            text: &f.text,
            unit: &f.unit,
            fixed: &f.fixed,
            existing: &existing,
        };
        match plan_write(&input) {
            Ok(plan) => {
                existing.extend(plan.create.iter().map(|n| n.path.clone()));
                existing.push(plan.backup.path.clone());
                plans.push((f, plan));
            }
            Err(e) => {
                error(e);
                refused = true;
            }
        }
    }
    if refused {
        error("nothing was written");
        return EXIT_USAGE;
    }
    if plans.is_empty() {
        return EXIT_CLEAN;
    }
    // Every path we would create must be new; the temporary files of the replacements too.
    let temps: Vec<PathBuf> = plans.iter().map(|(_, p)| temp_path(&p.file)).collect();
    let mut in_the_way = Vec::new();
    for (_, plan) in &plans {
        for p in plan.new_paths() {
            if fs::symlink_metadata(p).is_ok() {
                in_the_way.push(p.to_path_buf());
            }
        }
    }
    for t in &temps {
        if fs::symlink_metadata(t).is_ok() {
            in_the_way.push(t.clone());
        }
    }
    if !in_the_way.is_empty() {
        for p in &in_the_way {
            error(format!(
                "{}: is in the way: fix --write only creates new files next to the migration \
                 (and keeps the original as .orig); move it away or rename it",
                p.display()
            ));
        }
        error("nothing was written");
        return EXIT_USAGE;
    }

    // Create everything new; on any failure remove what this run created.
    let mut created_files: Vec<PathBuf> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), String> {
        for ((_, plan), temp) in plans.iter().zip(&temps) {
            for d in &plan.create_dirs {
                fs::create_dir(d).map_err(|e| format!("{}: cannot create: {e}", d.display()))?;
                created_dirs.push(d.clone());
            }
            create_new(&plan.backup.path, &plan.backup.contents, &mut created_files)?;
            for f in &plan.create {
                create_new(&f.path, &f.contents, &mut created_files)?;
            }
            create_new(temp, &plan.contents, &mut created_files)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        for f in created_files.iter().rev() {
            let _ = fs::remove_file(f);
        }
        for d in created_dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        error(format!("{e}; nothing was written"));
        return EXIT_USAGE;
    }
    // Replace the migrations (a rename: never half a file).
    let mut status = EXIT_CLEAN;
    for ((f, plan), temp) in plans.iter().zip(&temps) {
        if let Err(e) = fs::rename(temp, &plan.file) {
            let _ = fs::remove_file(temp);
            error(format!(
                "{}: cannot replace the migration: {e} (it is unchanged; the parts after it and \
                 the copy {} were written)",
                f.file.display,
                plan.backup.path.display()
            ));
            status = EXIT_USAGE;
            continue;
        }
        for w in &plan.warnings {
            eprintln!("pgdiplomat: warning: {w}");
        }
        let parts: Vec<String> = plan.parts.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "pgdiplomat: {}: wrote {} part(s) for {layout}{}; the original is {}",
            f.file.display,
            f.fixed.parts.len(),
            if parts.is_empty() {
                String::new()
            } else {
                format!(" (then {})", parts.join(", "))
            },
            plan.backup.path.display()
        );
    }
    status
}

/// `dir/.name.pgdiplomat-tmp`: hidden, so discovery never takes it for a migration.
fn temp_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.pgdiplomat-tmp"))
}

/// Creates `path` (it must not exist: O_EXCL) with `text`, and records it.
fn create_new(path: &Path, text: &str, created: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    created.push(path.to_path_buf());
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}
