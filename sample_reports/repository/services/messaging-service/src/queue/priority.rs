// messaging-service/src/queue/priority.rs: a stand-in (generate.py)
