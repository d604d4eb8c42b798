// user-service/src/auth/password.rs: a stand-in (generate.py)
