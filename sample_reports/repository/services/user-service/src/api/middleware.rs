// user-service/src/api/middleware.rs: a stand-in (generate.py)
