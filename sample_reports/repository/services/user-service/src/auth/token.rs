// user-service/src/auth/token.rs: a stand-in (generate.py)
