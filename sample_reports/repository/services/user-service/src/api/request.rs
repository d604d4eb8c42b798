// user-service/src/api/request.rs: a stand-in (generate.py)
