// user-service/src/export.rs: a stand-in (generate.py)
