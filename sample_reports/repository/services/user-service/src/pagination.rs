// user-service/src/pagination.rs: a stand-in (generate.py)
