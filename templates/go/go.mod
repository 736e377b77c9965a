module handler

go 1.18
