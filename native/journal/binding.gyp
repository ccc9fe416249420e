{
  "targets": [
    {
      "target_name": "journal",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/linux/journal.cc"],
          "libraries": ["-ldl", "-lpthread"]
        }]
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-Wall", "-Wextra", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fno-exceptions"],
      "cflags_cc": ["-Wall", "-Wextra", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fno-exceptions", "-std=c++17"],
      "ldflags": ["-Wl,-z,relro,-z,now"]
    }
  ]
}
