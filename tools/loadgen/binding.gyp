{
  "targets": [
    {
      "target_name": "oma-blast",
      "type": "executable",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["csrc/blast.c"],
          "defines": ["_GNU_SOURCE", "_FORTIFY_SOURCE=2"],
          "cflags": ["-O2", "-Wall", "-Wextra", "-fstack-protector-strong", "-pthread"],
          "ldflags": ["-pthread", "-Wl,-z,relro,-z,now"]
        }]
      ]
    }
  ]
}
