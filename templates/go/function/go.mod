module handler/function

go 1.18
