// user-service/src/models/role.rs: a stand-in (generate.py)
