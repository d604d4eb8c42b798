// messaging-service/src/queue/ack.rs: a stand-in (generate.py)
