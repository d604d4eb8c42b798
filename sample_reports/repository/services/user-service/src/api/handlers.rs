// user-service/src/api/handlers.rs: a stand-in (generate.py)
