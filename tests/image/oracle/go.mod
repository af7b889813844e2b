module example.invalid/ferry/semveroracle

go 1.26.8

require github.com/Masterminds/semver/v3 v3.4.0
