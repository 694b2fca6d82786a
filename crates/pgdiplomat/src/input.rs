//! Reading migrations: paths → ordered files → [`SourceFile`]s, and the shared settings
//! (config file + flags).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::config::{find_and_load_config, load_config, Config};
use pgdiplomat_analysis::deploy::{plan, DeployOptions};
use pgdiplomat_analysis::discover::{discover, MigrationFile};
use pgdiplomat_analysis::layout::{
    detect, file_units, masked_text, select, units, Layout, MigrationUnit,
};
use pgdiplomat_analysis::preprocess::{preprocess, Defines, Preprocessed, Settings};
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_locks::DEFAULT_VERSION;

use crate::cli::CommonArgs;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Prints an error in the `pgdiplomat: error: ...` form.
pub fn error(msg: impl std::fmt::Display) {
    eprintln!("pgdiplomat: error: {msg}");
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<(), ()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            error(format!("cannot write output: {e}"));
            Err(())
        }
    }
}

/// A path as the user should see it: relative to the current directory when inside it.
pub fn relative_to_cwd(path: &std::path::Path) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) => path
            .strip_prefix(&cwd)
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|_| path.to_path_buf()),
        Err(_) => path.to_path_buf(),
    }
}

/// Loads pgdiplomat.toml as the flags say. `Err` has already been reported.
pub fn load_settings(common: &CommonArgs) -> Result<(Config, Option<PathBuf>), ()> {
    if common.no_config {
        return Ok((Config::default(), None));
    }
    if let Some(path) = &common.config {
        return match load_config(path) {
            Ok(c) => Ok((c, Some(path.clone()))),
            Err(e) => {
                // Config errors already read `path:line:col: error: ...`.
                eprintln!("{e}");
                Err(())
            }
        };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match find_and_load_config(&cwd) {
        Ok(loaded) => Ok((loaded.config, loaded.path)),
        Err(e) => {
            eprintln!("{e}");
            Err(())
        }
    }
}

pub fn analysis_options(common: &CommonArgs, config: &Config) -> AnalysisOptions {
    AnalysisOptions {
        pg_version: common
            .pg_version
            .or(config.pg_version)
            .unwrap_or(DEFAULT_VERSION),
        assume_in_transaction: common.assume_in_transaction
            || config.assume_in_transaction.unwrap_or(false),
    }
}

/// The values of placeholders and psql variables: `--define` first, then pgdiplomat.toml's
/// `[placeholders]` (Flyway's own come later, per directory, in [`preprocess_settings`]).
pub fn defines(flags: &[(String, String)], config: &Config) -> Defines {
    let mut d = Defines::default();
    for (name, value) in flags {
        d.insert(name, Some(value.clone()), "--define");
    }
    for (name, value) in &config.placeholders {
        d.insert(name, Some(value.clone()), "pgdiplomat.toml");
    }
    d
}

/// How the tool of `layout` reads the files under `dir` (psql or not, Flyway's placeholders
/// from its configuration and the environment). A Flyway configuration that cannot be read is
/// a warning: the files are still linted, without its values.
pub fn preprocess_settings(layout: Layout, dir: &Path, defines: &Defines) -> Settings {
    let env: Vec<(String, String)> = if layout == Layout::Flyway {
        std::env::vars().collect()
    } else {
        Vec::new()
    };
    let (settings, problem) = Settings::for_layout(layout, dir, defines, &env);
    if let Some(p) = problem {
        eprintln!("pgdiplomat: warning: {p}; placeholders are linted without its values");
    }
    settings
}

/// The layout `lint FILE` uses for one file named on the command line: detected from the file
/// itself (`text` is its contents).
pub fn file_layout(path: &Path, text: &str) -> Layout {
    let file = MigrationFile {
        path: path.to_path_buf(),
        display: path.display().to_string(),
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    detect(&dir, std::slice::from_ref(&file), &[text])
}

/// The directory a path argument's migrations are in.
pub fn dir_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Reads every path in migration order. Problems are reported as they happen; the returned
/// flag says whether any occurred (exit status 2), while readable files are still returned.
pub fn read_sources(paths: &[PathBuf]) -> (Vec<SourceFile>, bool) {
    let mut sources = Vec::new();
    let mut failed = false;
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                continue;
            }
            stdin_used = true;
            match read_stdin() {
                Some(source) => sources.push(source),
                None => failed = true,
            }
            continue;
        }
        for found in discover(std::slice::from_ref(path)) {
            match found {
                Ok(file) => match read_file(&file) {
                    Some(s) => sources.push(s),
                    None => failed = true,
                },
                Err(e) => {
                    error(e);
                    failed = true;
                }
            }
        }
    }
    (sources, failed)
}

/// One migration to lint, as its tool runs it.
pub struct LintInput {
    /// The text that runs: parts the tool skips (dbmate's `-- migrate:down` section) are blanked
    /// to spaces, newlines kept, so lines and columns are the file's.
    pub source: SourceFile,
    /// `source` as PostgreSQL gets it (meta-commands skipped, placeholders replaced), with
    /// what the user must know about it.
    pub pre: Preprocessed,
    /// Whether the tool runs the file in one transaction; `None` when the layout does not say
    /// (plain SQL, standard input): then `--assume-in-transaction` / the config decides.
    pub in_transaction: Option<bool>,
    /// Its findings are reported (false: an unchanged file or one up to the baseline, read
    /// for what it tells about the schema).
    pub report: bool,
    /// A deploy starts with this file: the tables earlier files created exist with data.
    pub starts_deploy: bool,
}

/// Like [`read_sources`], for `lint`: each directory argument gets its layout (`layout`, else
/// detected), keeps the files its tool runs in the tool's order, and each file becomes the unit
/// the tool runs. `deploy` says which files are reported and where deploys start
/// ([`pgdiplomat_analysis::deploy`]); a `start-after` that names no file is an error
/// (reported, `failed`, nothing returned).
pub fn read_migrations(
    paths: &[PathBuf],
    layout: Option<Layout>,
    deploy: &DeployOptions,
    defines: &Defines,
) -> (Vec<LintInput>, bool) {
    let mut inputs = Vec::new();
    // The files in order (`None`: standard input), and the file each input is a part of.
    let mut origins: Vec<Option<MigrationFile>> = Vec::new();
    let mut input_origin: Vec<usize> = Vec::new();
    let mut failed = false;
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                continue;
            }
            stdin_used = true;
            match read_stdin() {
                Some(source) => {
                    let settings = preprocess_settings(Layout::Plain, Path::new("."), defines);
                    inputs.push(LintInput {
                        pre: preprocess(&source.text, &settings),
                        source,
                        in_transaction: None,
                        report: true,
                        starts_deploy: false,
                    });
                    input_origin.push(origins.len());
                    origins.push(None);
                }
                None => failed = true,
            }
            continue;
        }
        // Each file is read exactly once, here: layout detection and linting both use this
        // text, so a pipe, a FIFO or `/dev/stdin` is linted as what it held.
        let mut files = Vec::new();
        let mut texts: HashMap<PathBuf, SourceFile> = HashMap::new();
        for found in discover(std::slice::from_ref(path)) {
            match found {
                Ok(file) => match read_file(&file) {
                    Some(source) => {
                        texts.insert(file.path.clone(), source);
                        files.push(file);
                    }
                    None => failed = true,
                },
                Err(e) => {
                    error(e);
                    failed = true;
                }
            }
        }
        let is_dir = path.is_dir();
        let dir = dir_of(path);
        let layout = layout.unwrap_or_else(|| {
            let contents: Vec<&str> = files
                .iter()
                .map(|f| texts.get(&f.path).map_or("", |s| s.text.as_str()))
                .collect();
            detect(&dir, &files, &contents)
        });
        if is_dir && !files.is_empty() {
            let found = files.len();
            files = select(layout, files);
            if files.is_empty() {
                error(format!(
                    "{}: none of the {found} .sql files is a migration {layout} runs; \
                     pass --layout to say which tool applies them",
                    path.display()
                ));
                failed = true;
                continue;
            }
        }
        let settings = preprocess_settings(layout, &dir, defines);
        for file in files {
            let Some(source) = texts.remove(&file.path) else {
                continue;
            };
            // Usually one unit per file; a file its tool runs in parts (goose statements
            // outside a transaction, Liquibase changesets) is linted part by part, all parts
            // in the file's deploy.
            let origin = origins.len();
            for (unit, source, pre) in prepare_units(layout, &file, &source, &settings) {
                inputs.push(LintInput {
                    source,
                    pre,
                    in_transaction: (layout != Layout::Plain).then_some(unit.in_transaction),
                    report: true,
                    starts_deploy: false,
                });
                input_origin.push(origin);
            }
            origins.push(Some(file));
        }
    }
    let refs: Vec<Option<&MigrationFile>> = origins.iter().map(Option::as_ref).collect();
    match plan(&refs, deploy) {
        Ok(planned) => {
            let mut previous = None;
            for (input, &origin) in inputs.iter_mut().zip(&input_origin) {
                let p = planned[origin];
                input.report = p.report;
                // Only the file's first part starts its deploy.
                input.starts_deploy = p.starts_deploy && previous != Some(origin);
                previous = Some(origin);
            }
        }
        Err(e) => {
            error(e);
            return (Vec::new(), true);
        }
    }
    (inputs, failed)
}

/// What of `source` runs under `layout` (its tool's unit, read from the preprocessed text so
/// placeholders do not hide its statements), the source masked to it, and the preprocessed
/// text restricted to it.
pub fn prepare_unit(
    layout: Layout,
    file: &MigrationFile,
    source: &SourceFile,
    settings: &Settings,
) -> (MigrationUnit, SourceFile, Preprocessed) {
    let pre = preprocess(&source.text, settings);
    let unit = units(layout, file, &pre.text);
    let shown = SourceFile::new(
        source.name.clone(),
        masked_text(&source.text, unit.range.clone()),
    );
    let pre = pre.restrict(unit.range.clone());
    (unit, shown, pre)
}

/// Like [`prepare_unit`], for each of the units the tool runs the file as
/// ([`file_units`]), in order.
pub fn prepare_units(
    layout: Layout,
    file: &MigrationFile,
    source: &SourceFile,
    settings: &Settings,
) -> Vec<(MigrationUnit, SourceFile, Preprocessed)> {
    let pre = preprocess(&source.text, settings);
    file_units(layout, file, &pre.text)
        .into_iter()
        .map(|unit| {
            let shown = SourceFile::new(
                source.name.clone(),
                masked_text(&source.text, unit.range.clone()),
            );
            let pre = pre.clone().restrict(unit.range.clone());
            (unit, shown, pre)
        })
        .collect()
}

/// One file, read once, as a source named as the user gave it; `None` (already reported) when
/// it cannot be read or is not UTF-8.
fn read_file(file: &MigrationFile) -> Option<SourceFile> {
    match std::fs::read(&file.path) {
        Ok(bytes) => decode(&file.display, bytes).ok(),
        Err(e) => {
            error(format!("{}: cannot read: {e}", file.display));
            None
        }
    }
}

/// Standard input as a source named `<stdin>`; `None` (already reported) when it cannot be read.
fn read_stdin() -> Option<SourceFile> {
    let mut buf = Vec::new();
    match std::io::stdin().read_to_end(&mut buf) {
        Ok(_) => decode("<stdin>", buf).ok(),
        Err(e) => {
            error(format!("cannot read standard input: {e}"));
            None
        }
    }
}

/// UTF-8 text of a migration. A leading byte order mark is dropped, as psql does.
fn decode(name: &str, mut bytes: Vec<u8>) -> Result<SourceFile, ()> {
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(name, text)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.into_bytes()[..offset]).into_owned();
            let lc = SourceFile::new(name, text).line_col(offset);
            error(format!(
                "{name}:{}:{}: the file is not valid UTF-8; save it as UTF-8 (PostgreSQL migrations normally are)",
                lc.line, lc.column
            ));
            Err(())
        }
    }
}

/// Reads the schema of the database at `url` (catalog queries only) into `schema`; the error
/// says what failed, never the password.
pub fn load_database_schema(
    url: &str,
    schema: &mut pgdiplomat_analysis::model::SchemaState,
) -> Result<(), String> {
    pgdiplomat_apply::connect::target(Some(url))
        .map_err(|e| e.to_string())
        .and_then(|t| t.connect().map_err(|e| e.to_string()))
        .and_then(|mut c| {
            pgdiplomat_catalog::load_schema(&mut c, schema)
                .map_err(|e| pgdiplomat_trace::run::error_text(&e))
        })
}
