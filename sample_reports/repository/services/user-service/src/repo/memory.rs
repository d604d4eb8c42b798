// user-service/src/repo/memory.rs: a stand-in (generate.py)
