// messaging-service/src/redis_store/consumer_group.rs: a stand-in (generate.py)
