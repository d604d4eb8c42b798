# search-service/tests/test_api.py: a stand-in (generate.py)
