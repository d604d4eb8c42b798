// messaging-service/src/queue/dead_letter.rs: a stand-in (generate.py)
