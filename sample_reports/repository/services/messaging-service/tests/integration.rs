// messaging-service/tests/integration.rs: a stand-in (generate.py)
