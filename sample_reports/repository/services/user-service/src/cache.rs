// user-service/src/cache.rs: a stand-in (generate.py)
