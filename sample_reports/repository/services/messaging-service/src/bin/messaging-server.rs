// messaging-service/src/bin/messaging-server.rs: a stand-in (generate.py)
