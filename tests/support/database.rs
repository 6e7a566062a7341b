//! A PostgreSQL database of a test's own on the server at `GANCHO_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), created for it and dropped at the end.
#![allow(dead_code)]

/// A database of its own on the test server, dropped at the end.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    runtime: tokio::runtime::Runtime,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let admin_url = std::env::var("GANCHO_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("gancho_test_{}_{}", std::process::id(), rand_suffix());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = connect(&admin_url).await;
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        });
        TestDatabase { admin_url, name, runtime }
    }

    pub fn url(&self) -> String {
        match self.admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{}", self.name),
            None => panic!("GANCHO_TEST_DATABASE_URL must end with a database name"),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        self.runtime.block_on(async move {
            let client = connect(&url).await;
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        });
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} (set GANCHO_TEST_DATABASE_URL): {e}"));
    tokio::spawn(connection);
    client
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
}
