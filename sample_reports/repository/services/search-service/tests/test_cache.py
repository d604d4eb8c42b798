# search-service/tests/test_cache.py: a stand-in (generate.py)
