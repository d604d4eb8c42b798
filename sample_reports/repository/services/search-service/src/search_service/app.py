# search-service/src/search_service/app.py: a stand-in (generate.py)
