// user-service/src/main.rs: a stand-in (generate.py)
