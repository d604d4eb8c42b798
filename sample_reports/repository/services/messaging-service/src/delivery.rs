// messaging-service/src/delivery.rs: a stand-in (generate.py)
