// user-service/src/models/user.rs: a stand-in (generate.py)
