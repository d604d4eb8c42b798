-- A gatekeeper history at schema version 1, as `sqlite3 history.db .dump` shows it.
-- Frozen: made once by gatekeeper's version-1 DDL, with a little data; never regenerate it.
BEGIN TRANSACTION;
CREATE TABLE benchmarks (
	id INTEGER NOT NULL,
	run_fk INTEGER NOT NULL,
	name TEXT NOT NULL,
	bench_group TEXT NOT NULL,
	value FLOAT NOT NULL,
	unit TEXT NOT NULL,
	statistic TEXT NOT NULL,
	direction TEXT NOT NULL,
	spread FLOAT,
	spread_kind TEXT,
	lower FLOAT,
	upper FLOAT,
	PRIMARY KEY (id),
	FOREIGN KEY(run_fk) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "benchmarks" VALUES(1,1,'parse/small','criterion',1234.5,'ns','estimate','lower',10.0,'ci',1200.0,1260.0);
CREATE TABLE coverage_files (
	id INTEGER NOT NULL,
	report_fk INTEGER NOT NULL,
	path TEXT NOT NULL,
	package TEXT NOT NULL,
	lines_valid INTEGER NOT NULL,
	lines_covered INTEGER NOT NULL,
	branches_valid INTEGER NOT NULL,
	branches_covered INTEGER NOT NULL,
	covered_lines TEXT NOT NULL,
	missed_lines TEXT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(report_fk) REFERENCES coverage_reports (id) ON DELETE CASCADE
);
INSERT INTO "coverage_files" VALUES(1,1,'src/lib.rs','user_service',8,6,2,1,'1-4,7,9','5,6');
CREATE TABLE coverage_packages (
	id INTEGER NOT NULL,
	report_fk INTEGER NOT NULL,
	name TEXT NOT NULL,
	lines_valid INTEGER NOT NULL,
	lines_covered INTEGER NOT NULL,
	branches_valid INTEGER NOT NULL,
	branches_covered INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(report_fk) REFERENCES coverage_reports (id) ON DELETE CASCADE
);
INSERT INTO "coverage_packages" VALUES(1,1,'user_service',8,6,2,1);
CREATE TABLE coverage_reports (
	id INTEGER NOT NULL,
	run_fk INTEGER NOT NULL,
	producer TEXT NOT NULL,
	sources TEXT NOT NULL,
	declared_line_rate FLOAT,
	total_name TEXT NOT NULL,
	lines_valid INTEGER NOT NULL,
	lines_covered INTEGER NOT NULL,
	branches_valid INTEGER NOT NULL,
	branches_covered INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_fk) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "coverage_reports" VALUES(1,1,'cargo-llvm-cov','["/home/ci/work"]',0.75,'',8,6,2,1);
CREATE TABLE results (
	id INTEGER NOT NULL,
	run_fk INTEGER NOT NULL,
	test_fk INTEGER NOT NULL,
	retry INTEGER NOT NULL,
	outcome SMALLINT NOT NULL,
	duration FLOAT,
	message TEXT,
	failure_kind TEXT,
	line INTEGER,
	PRIMARY KEY (id),
	CONSTRAINT ck_results_outcome CHECK (outcome BETWEEN 0 AND 3),
	CONSTRAINT ck_results_retry CHECK (retry >= 0),
	FOREIGN KEY(run_fk) REFERENCES runs (id) ON DELETE CASCADE,
	FOREIGN KEY(test_fk) REFERENCES tests (id) ON DELETE CASCADE
);
INSERT INTO "results" VALUES(1,1,1,0,0,0.002,NULL,NULL,12);
INSERT INTO "results" VALUES(2,1,2,0,1,0.5,'assertion failed: cache hit','panic',NULL);
INSERT INTO "results" VALUES(3,1,2,1,0,0.4,NULL,NULL,NULL);
INSERT INTO "results" VALUES(4,1,3,0,3,NULL,'ignored: needs docker',NULL,NULL);
CREATE TABLE runs (
	id INTEGER NOT NULL,
	service TEXT NOT NULL,
	run_id TEXT NOT NULL,
	attempt INTEGER NOT NULL,
	commit_sha TEXT,
	branch TEXT,
	run_at DATETIME,
	effective_at DATETIME NOT NULL,
	ingested_at DATETIME NOT NULL,
	ci_provider TEXT,
	url TEXT,
	tests INTEGER NOT NULL,
	passed INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	errors INTEGER NOT NULL,
	skipped INTEGER NOT NULL,
	retried INTEGER NOT NULL,
	flaky INTEGER NOT NULL,
	warnings TEXT NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_runs_key UNIQUE (service, run_id, attempt)
);
INSERT INTO "runs" VALUES(1,'user-service','1001',1,'8f2c1a0','main','2024-03-01 09:00:00.000000','2024-03-01 09:00:00.000000','2024-03-01 09:05:00.000000','github','https://ci.example/runs/1001',3,2,0,0,1,1,1,'["junit.xml:7: tests=4 but 3 <testcase> elements"]');
CREATE TABLE schema_meta (
	"key" TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
);
INSERT INTO "schema_meta" VALUES('schema_version','1');
CREATE TABLE source_files (
	id INTEGER NOT NULL,
	run_fk INTEGER NOT NULL,
	path TEXT NOT NULL,
	format TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	size BIGINT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_fk) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "source_files" VALUES(1,1,'target/nextest/ci/junit.xml','junit','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',2048);
CREATE TABLE tests (
	id INTEGER NOT NULL,
	service TEXT NOT NULL,
	test_id TEXT NOT NULL,
	suite TEXT NOT NULL,
	name TEXT NOT NULL,
	file TEXT,
	first_seen DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_tests_key UNIQUE (service, test_id)
);
INSERT INTO "tests" VALUES(1,'user-service','user_service::tests::it_works','user_service','tests::it_works','src/lib.rs','2024-03-01 09:00:00.000000');
INSERT INTO "tests" VALUES(2,'user-service','user_service::tests::flaky','user_service','tests::flaky',NULL,'2024-03-01 09:00:00.000000');
INSERT INTO "tests" VALUES(3,'user-service','integration::slow','integration','slow',NULL,'2024-03-01 09:00:00.000000');
CREATE INDEX ix_runs_effective_at ON runs (effective_at);
CREATE INDEX ix_runs_service_branch_time ON runs (service, branch, effective_at);
CREATE INDEX ix_source_files_run ON source_files (run_fk);
CREATE INDEX ix_results_test_run ON results (test_fk, run_fk);
CREATE INDEX ix_results_run ON results (run_fk);
CREATE INDEX ix_coverage_reports_run ON coverage_reports (run_fk);
CREATE INDEX ix_benchmarks_run ON benchmarks (run_fk);
CREATE INDEX ix_coverage_packages_report ON coverage_packages (report_fk);
CREATE INDEX ix_coverage_files_report ON coverage_files (report_fk);
COMMIT;
