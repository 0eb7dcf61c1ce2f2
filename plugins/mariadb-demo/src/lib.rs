//! Dagger's MariaDB service example.
//!
//! The image is a Debian root with mariadb-server (`cargo xtask images` builds
//! it as `berth.local/mariadb`; berth.toml maps `mariadb:10.11` to it).

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:mariadb-demo/mariadb-demo",
    generate_all,
});

use berth::core::containers::Container;
use berth::core::types::Protocol;

const IMAGE: &str = "mariadb:10.11";

/// Runs at every server start (`--init-file`): the user the clients log in as.
const INIT_SQL: &[u8] = b"CREATE USER IF NOT EXISTS 'berth'@'%' IDENTIFIED BY 'berth';\n\
GRANT ALL PRIVILEGES ON *.* TO 'berth'@'%';\n\
FLUSH PRIVILEGES;\n";

struct MariadbDemo;

impl Guest for MariadbDemo {
    fn database() -> Service {
        let start = "mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && \
                     exec mariadbd --user=mysql --bind-address=0.0.0.0 --skip-name-resolve \
                     --init-file=/etc/mysql/berth-init.sql";
        Container::new(IMAGE)
            .with_new_file("/etc/mysql/berth-init.sql", INIT_SQL, Some(0o644))
            .with_exposed_port(3306, Protocol::Tcp, Some("mysql"))
            .with_exec(&["sh", "-c", start].map(String::from))
            .as_service(None)
    }

    fn user_list(svc: &Service) -> Result<String, Error> {
        Container::new(IMAGE)
            .with_service_binding("db", svc)
            .with_exec(
                &[
                    "mariadb",
                    "--user=berth",
                    "--password=berth",
                    "--host=db",
                    "-e",
                    "SELECT Host, User FROM mysql.user",
                ]
                .map(String::from),
            )
            .stdout()
    }

    fn user_list_local() -> Result<String, Error> {
        Self::user_list(&Self::database())
    }
}

export!(MariadbDemo);
