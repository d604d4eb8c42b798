// user-service/tests/api.rs: a stand-in (generate.py)
