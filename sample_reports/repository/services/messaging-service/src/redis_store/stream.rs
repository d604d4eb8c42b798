// messaging-service/src/redis_store/stream.rs: a stand-in (generate.py)
