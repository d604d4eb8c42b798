# search-service/tests/test_index.py: a stand-in (generate.py)
