# search-service/src/search_service/query/ranking.py: a stand-in (generate.py)
