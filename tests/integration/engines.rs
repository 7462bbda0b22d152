//! What the engines' archives say at the edge of the CLI: one writer at a
//! time on SQLite, several on PostgreSQL, and a `database.url` naming no
//! engine refused up front.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{archive_on, stderr, write_config, Engine};

fn newsd(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newsd"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("NEWSD_CONFIG")
        .env_remove("NEWSD__DATABASE__URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run newsd")
}

#[tokio::test]
async fn a_second_writer_on_an_sqlite_file_is_refused_with_a_message_pointing_to_postgres() {
    let archive = archive_on(Engine::Sqlite).await;
    let config = write_config(archive.dir.path(), &archive.url, &[], "");
    let lock = newsd::store::lock_writer(&archive.url)
        .await
        .expect("the first writer takes the lock");
    for args in [&["poll", "--once"][..], &["run"][..]] {
        let out = newsd(&config, args);
        assert!(!out.status.success(), "{args:?} ran beside a writer");
        let err = stderr(&out);
        assert!(err.contains("another newsd writer"), "{args:?}: {err}");
        assert!(
            err.contains("only one may write at a time"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("several instances need PostgreSQL"),
            "{args:?}: {err}"
        );
    }
    drop(lock);
    // Released with its holder: the next writer gets it.
    let again = newsd::store::lock_writer(&archive.url)
        .await
        .expect("the lock is free once its holder is gone");
    drop(again);
}

#[tokio::test]
async fn a_second_writer_on_postgres_runs_beside_the_first_and_a_copy_into_it_is_refused() {
    if !crate::helpers::postgres_configured("second writer on postgres") {
        return;
    }
    let archive = archive_on(Engine::Postgres).await;
    let config = write_config(archive.dir.path(), &archive.url, &[], "");
    let lock = newsd::store::lock_writer(&archive.url)
        .await
        .expect("a writer takes its shared lock");
    let out = newsd(&config, &["poll", "--once"]);
    assert!(
        out.status.success(),
        "poll --once beside a writer: {}",
        stderr(&out)
    );
    let source = archive_on(Engine::Sqlite).await;
    let source_config = write_config(source.dir.path(), &source.url, &[], "");
    assert!(newsd(&source_config, &["poll", "--once"]).status.success());
    let out = newsd(&source_config, &["copy", "--to", &archive.url]);
    assert!(
        !out.status.success(),
        "copied into an archive being written"
    );
    let err = stderr(&out);
    assert!(err.contains("stop them before copying"), "{err}");
    if let Some(password) = url::Url::parse(&archive.url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        assert!(
            !err.contains(&format!(":{password}@")),
            "password shown: {err}"
        );
    }
    drop(lock);
}

#[tokio::test]
async fn a_database_url_naming_no_engine_is_refused_with_the_schemes_that_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "mysql://newsd@127.0.0.1/newsd", &[], "");
    for args in [&["poll", "--once"][..], &["run"][..], &["stats"][..]] {
        let out = newsd(&config, args);
        assert!(!out.status.success(), "{args:?} accepted a mysql: URL");
        let err = stderr(&out);
        assert!(
            err.contains("sqlite:") && err.contains("postgres://"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        1,
        "nothing but the config was created"
    );
}
