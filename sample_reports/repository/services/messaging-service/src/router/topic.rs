// messaging-service/src/router/topic.rs: a stand-in (generate.py)
