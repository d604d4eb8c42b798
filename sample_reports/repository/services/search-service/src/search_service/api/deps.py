# search-service/src/search_service/api/deps.py: a stand-in (generate.py)
