# search-service/tests/test_tokenize.py: a stand-in (generate.py)
