{
  "targets": [
    {
      "target_name": "unixdgram",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/linux/unixdgram.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE", "_FORTIFY_SOURCE=2"],
          "cflags": ["-Wall", "-Wextra", "-fstack-protector-strong", "-fno-exceptions"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fstack-protector-strong", "-fno-exceptions"],
          "ldflags": ["-Wl,-z,relro,-z,now"]
        }]
      ]
    }
  ]
}
