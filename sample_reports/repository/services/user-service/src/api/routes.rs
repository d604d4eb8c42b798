// user-service/src/api/routes.rs: a stand-in (generate.py)
