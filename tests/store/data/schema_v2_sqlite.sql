-- A gatekeeper history at schema version 2, as `sqlite3 history.db .dump` shows it.
-- Frozen: written once by gatekeeper's version-2 code (save_runs at schema version 2, before
-- version 3 existed), ingest times set to 2024-04-04 10:00; never regenerate it.
-- Runs: user-service 2001 (main, 3 tests, coverage, a benchmark with samples), 2002 (main,
-- 2 tests, a benchmark), 2003 (feature/x, 1 test); billing 3001 (main, 1 test).
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_meta (
	"key" TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
);
INSERT INTO schema_meta VALUES('schema_version','2');
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
INSERT INTO runs VALUES(1,'billing','3001',1,'c3001','main','2024-04-04 09:00:00.000000','2024-04-04 09:00:00.000000','2024-04-04 10:00:00.000000','github','https://ci.example/runs/3001',1,1,0,0,0,0,0,'["junit.xml:3: no time attribute"]');
INSERT INTO runs VALUES(2,'user-service','2001',1,'c2001','main','2024-04-01 09:00:00.000000','2024-04-01 09:00:00.000000','2024-04-04 10:00:00.000000','github','https://ci.example/runs/2001',3,2,0,0,1,1,1,'[]');
INSERT INTO runs VALUES(3,'user-service','2002',1,'c2002','main','2024-04-02 09:00:00.000000','2024-04-02 09:00:00.000000','2024-04-04 10:00:00.000000','github','https://ci.example/runs/2002',2,2,0,0,0,0,0,'[]');
INSERT INTO runs VALUES(4,'user-service','2003',1,'c2003','feature/x','2024-04-03 09:00:00.000000','2024-04-03 09:00:00.000000','2024-04-04 10:00:00.000000','github','https://ci.example/runs/2003',1,1,0,0,0,0,0,'[]');
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
INSERT INTO tests VALUES(1,'billing','billing::tests::x','billing::tests','x',NULL,'2024-04-04 09:00:00.000000');
INSERT INTO tests VALUES(2,'user-service','user_service::tests::a','user_service::tests','a',NULL,'2024-04-01 09:00:00.000000');
INSERT INTO tests VALUES(3,'user-service','user_service::tests::b','user_service::tests','b',NULL,'2024-04-01 09:00:00.000000');
INSERT INTO tests VALUES(4,'user-service','user_service::tests::c','user_service::tests','c',NULL,'2024-04-01 09:00:00.000000');
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
INSERT INTO source_files VALUES(1,1,'target/nextest/ci/junit.xml','junit','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',4096);
INSERT INTO source_files VALUES(2,2,'target/nextest/ci/junit.xml','junit','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',4096);
INSERT INTO source_files VALUES(3,3,'target/nextest/ci/junit.xml','junit','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',4096);
INSERT INTO source_files VALUES(4,4,'target/nextest/ci/junit.xml','junit','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',4096);
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
INSERT INTO results VALUES(1,1,1,0,0,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(2,2,2,0,0,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(3,2,3,0,1,0.5,'boom',NULL,NULL);
INSERT INTO results VALUES(4,2,3,1,0,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(5,2,4,0,3,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(6,3,2,0,0,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(7,3,3,0,0,0.5,NULL,NULL,NULL);
INSERT INTO results VALUES(8,4,2,0,0,0.5,NULL,NULL,NULL);
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
INSERT INTO coverage_reports VALUES(1,2,'cargo-llvm-cov','["src"]',0.8000000000000000444,'',10,8,2,1);
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
	upper FLOAT, samples TEXT, iterations BIGINT,
	PRIMARY KEY (id),
	FOREIGN KEY(run_fk) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO benchmarks VALUES(1,2,'parse/small','criterion',1000.0,'ns','estimate','lower',5.0,'ci',990.0,1010.0,'[990.0,1000.0,1010.0]',300);
INSERT INTO benchmarks VALUES(2,3,'parse/small','criterion',1100.0,'ns','estimate','lower',6.0,'ci',1090.0,1110.0,'[1090.0,1100.0,1110.0]',300);
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
INSERT INTO coverage_packages VALUES(1,1,'user_service',10,8,2,1);
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
INSERT INTO coverage_files VALUES(1,1,'src/lib.rs','user_service',10,8,2,1,'1-8','9-10');
CREATE INDEX ix_runs_service_branch_time ON runs (service, branch, effective_at);
CREATE INDEX ix_runs_effective_at ON runs (effective_at);
CREATE INDEX ix_source_files_run ON source_files (run_fk);
CREATE INDEX ix_results_test_run ON results (test_fk, run_fk);
CREATE INDEX ix_results_run ON results (run_fk);
CREATE INDEX ix_coverage_reports_run ON coverage_reports (run_fk);
CREATE INDEX ix_benchmarks_run ON benchmarks (run_fk);
CREATE INDEX ix_coverage_packages_report ON coverage_packages (report_fk);
CREATE INDEX ix_coverage_files_report ON coverage_files (report_fk);
CREATE INDEX ix_benchmarks_name_run ON benchmarks (name, run_fk);
COMMIT;
