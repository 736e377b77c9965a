# Calls Handler#run once per request (classic watchdog): the request body arrives on stdin,
# what run returns is printed as the response.

gemfile = File.join(__dir__, "function", "Gemfile")
if File.directory?(File.join(__dir__, "function", "vendor"))
  # Gems from function/Gemfile, installed by `faas-cli build`.
  ENV["BUNDLE_GEMFILE"] ||= gemfile
  ENV["BUNDLE_PATH"] ||= File.join(__dir__, "function", "vendor", "bundle")
  require "bundler/setup"
end

require_relative "function/handler"

req = $stdin.read
handler = Handler.new
res = handler.run(req)
puts res unless res.nil?
