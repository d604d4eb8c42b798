// messaging-service/src/codec.rs: a stand-in (generate.py)
