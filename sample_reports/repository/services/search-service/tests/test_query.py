# search-service/tests/test_query.py: a stand-in (generate.py)
