# search-service/src/search_service/api/schemas.py: a stand-in (generate.py)
