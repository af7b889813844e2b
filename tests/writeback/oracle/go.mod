module example.invalid/ferry/goyamloracle

go 1.26.8

require sigs.k8s.io/yaml v1.4.0
