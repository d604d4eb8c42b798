// messaging-service/src/client.rs: a stand-in (generate.py)
