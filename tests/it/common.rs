//! Shared test support: the AWS emulator on a free loopback port, a work
//! folder holding a spec, the real gwctl binary, and SDK clients that read
//! the emulator directly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "ap-south-1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has moto: `GWCTL_EMULATOR_PYTHON`, else the repo's `.venv`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("GWCTL_EMULATOR_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no emulator Python: run `scripts/setup-emulator` (creates .venv with the pinned moto) or set GWCTL_EMULATOR_PYTHON"
    );
    venv
}

/// moto's server with gwctl's additions (tests/emulator/launcher.py).
pub struct Emulator {
    child: Child,
    pub port: u16,
}

impl Emulator {
    pub fn start() -> Emulator {
        let mut child = Command::new(python())
            .arg(repo().join("tests/emulator/launcher.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read emulator port");
        let port = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("emulator did not report its port: {line:?}")
        });
        Emulator { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A raw HTTP call to the emulator's control API; returns the body.
    pub fn control(&self, method: &str, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect emulator");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send control request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read control response");
        response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    }

    pub fn configure(&self, config: serde_json::Value) {
        self.control("POST", "/_emulator/config", &config.to_string());
    }

    /// The answers the emulator refused (400 and up, other than throttling
    /// and injected faults), by "service:Operation ErrorCode".
    pub fn refused(&self) -> std::collections::BTreeMap<String, u64> {
        let calls = self.calls();
        calls["refused"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect()).unwrap_or_default()
    }

    /// AWS calls received, by "service:Operation".
    pub fn calls(&self) -> serde_json::Value {
        serde_json::from_str(&self.control("GET", "/_emulator/calls", "")).expect("calls JSON")
    }

    pub async fn sdk(&self) -> Sdk {
        self.sdk_in(REGION).await
    }

    /// SDK clients for `region`.
    pub async fn sdk_in(&self, region: &'static str) -> Sdk {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await;
        Sdk {
            ec2: aws_sdk_ec2::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            apigw: aws_sdk_apigatewayv2::Client::new(&config),
            cloudmap: aws_sdk_servicediscovery::Client::new(&config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build()),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Sdk {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub cloudmap: aws_sdk_servicediscovery::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Sdk {
    /// What a hurried colleague does in the console: SSH open to the world.
    pub async fn open_port_22(&self, group_id: &str) {
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("0.0.0.0/0")
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
    }
}

/// A work folder with a spec and the user-data script, as a user has.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
}

/// The repo's gateway.toml as it is: the seed stack, its user pool
/// protected from deletion.
pub fn repo_seed_spec() -> String {
    std::fs::read_to_string(repo().join("gateway.toml")).expect("read gateway.toml")
}

/// The seed stack with its user pool's deletion protection off, so that a
/// test can destroy it ([`repo_seed_spec`] is the file as it is).
pub fn seed_spec() -> String {
    let seed = repo_seed_spec();
    let protected = "deletion_protection = true";
    assert!(seed.contains(protected), "the seed protects its user pool");
    seed.replace(protected, "deletion_protection = false")
}

/// The seed stack as the CDK project built it: the API's public HTTP
/// integration calls the instance's public address, whose port 80 is open
/// to the world (finding GW001), and the authorizer trusts a user pool made
/// elsewhere, by the placeholder issuer and audience a user copies in
/// (finding GW007). The tests of what depends on neither run on it.
pub fn public_seed_spec() -> String {
    let seed = seed_spec();
    let pool = seed.find("# Who may call the API").expect("seed has its user pool");
    let api = seed.find("[api.main]").expect("seed has [api.main]");
    let seed = format!("{}{}", &seed[..pool], &seed[api..]);
    let derived = "user_pool = \"main\"\nclients   = [\"web\"]\n";
    assert!(seed.contains(derived), "seed's authorizer names its pool");
    let seed = seed.replace(
        derived,
        "issuer   = \"https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_EXAMPLE\"\naudience = [\"example-app-client-id\"]\n",
    );
    let link = seed.find("# The backend is reachable only").expect("seed has the link group");
    let backend = seed.find("[security_group.backend]").expect("seed has the backend group");
    let public = format!("{}{}", &seed[..link], &seed[backend..]);
    let public = public.replace(
        "ingress = [{ protocol = \"tcp\", port = 80, security_group = \"link\" }]",
        "ingress = [{ protocol = \"tcp\", port = 80, cidr = \"0.0.0.0/0\" }]",
    );
    let private = "# A private integration: VPC link + Cloud Map to the instance's private address.\nvpc_link = { security_groups = [\"link\"] }\n";
    assert!(public.contains(private), "seed has the vpc_link line");
    public.replace(private, "")
}

/// The seed stack without its API: the EC2 side alone (public, as the CDK built it).
pub fn ec2_spec() -> String {
    let seed = public_seed_spec();
    let cut = seed.find("[api.main]").expect("seed has [api.main]");
    seed[..cut].to_string()
}

impl Workdir {
    pub fn new(emulator: &Emulator, spec: &str) -> Workdir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("examples")).expect("mkdir examples");
        std::fs::copy(repo().join("examples/apache-user-data.sh"), dir.path().join("examples/apache-user-data.sh")).expect("copy user data");
        let w = Workdir { dir, endpoint: emulator.endpoint() };
        w.write_spec(spec);
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn spec(&self) -> String {
        std::fs::read_to_string(self.path().join("gateway.toml")).expect("read spec")
    }

    pub fn write_spec(&self, spec: &str) {
        std::fs::write(self.path().join("gateway.toml"), spec).expect("write spec");
    }

    /// Rewrites the spec, replacing `from` (which must occur) with `to`.
    pub fn edit_spec(&self, from: &str, to: &str) {
        let spec = self.spec();
        assert!(spec.contains(from), "spec does not contain {from:?}");
        self.write_spec(&spec.replacen(from, to, 1));
    }

    pub fn state_path(&self) -> PathBuf {
        self.path().join("state/job-work-planner.json")
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).expect("read state")).expect("state JSON")
    }

    pub fn id_of(&self, address: &str) -> String {
        let state = self.state();
        let found = state["resources"].as_array().into_iter().flatten().find(|r| r["address"] == address);
        found.and_then(|r| r["id"].as_str()).unwrap_or_else(|| panic!("{address} not in state")).to_string()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.program(env!("CARGO_BIN_EXE_gwctl"));
        cmd.args(args);
        cmd
    }

    /// `program` in the work folder with the emulator's AWS environment.
    pub fn program(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs gwctl and returns its output.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run gwctl");
        Run::from(out)
    }

    /// Runs gwctl and fails the test unless it exits with `code`.
    pub fn expect(&self, args: &[&str], code: i32) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "gwctl {args:?} exited {}\nstdout:\n{}\nstderr:\n{}", run.code, run.stdout, run.stderr);
        run
    }

    /// `gwctl verify --json` through the emulator's data plane for the
    /// applied API: the exit code and each check's (ok, detail) by name.
    pub fn verify(&self, extra: &[&str]) -> (i32, std::collections::BTreeMap<String, (bool, String)>) {
        let endpoint = format!("{}/_dataplane/{}", self.endpoint, self.id_of("api.main"));
        let mut args = vec!["verify", "--json", "--endpoint", endpoint.as_str(), "--log-wait", "5s"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("verify --json is not JSON ({e}): {}\n{}", run.stdout, run.stderr));
        assert_eq!(report["format_version"], "1");
        assert_eq!(report["ok"].as_bool(), Some(run.code == 0), "ok agrees with the exit code: {report}");
        let checks = report["checks"].as_array().expect("checks").iter().map(|c| {
            (c["name"].as_str().unwrap().to_string(), (c["ok"].as_bool().unwrap(), c["detail"].as_str().unwrap().to_string()))
        });
        (run.code, checks.collect())
    }

    pub fn plan_json(&self) -> serde_json::Value {
        let run = self.expect(&["plan", "--json"], 0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("plan --json is not JSON ({e}): {}", run.stdout))
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The changes of a plan JSON other than no-ops, as (address, action).
pub fn actions(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["action"] != "no-op")
        .map(|c| (c["address"].as_str().unwrap_or("").to_string(), c["action"].as_str().unwrap_or("").to_string()))
        .collect()
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
