// messaging-service/src/redis_store/mod.rs: a stand-in (generate.py)
