// user-service/src/auth/session.rs: a stand-in (generate.py)
