// user-service/src/validation.rs: a stand-in (generate.py)
